import { Body, Controller, Get, Headers, Param, ParseIntPipe, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError, RpcSubjects, type Actor } from '@hms/contracts';
import type { Response } from 'express';
import { AllowRoles, CurrentActor } from '../auth/auth.guard';
import { RpcGateway } from '../http/rpc-gateway';
import { ApiAnswer } from '../openapi/api-answer';
import { schemaRef } from '../openapi/schemas';

const YAML_TYPES = /^(application|text)\/(x-)?yaml/i;

@ApiTags('plans')
@ApiBearerAuth()
@Controller('v1/plans')
@AllowRoles('service')
export class PlansController {
  constructor(private readonly rpc: RpcGateway) {}

  @Post()
  @AllowRoles()
  @ApiOperation({ summary: 'Register a plan (JSON, or YAML with Content-Type: application/yaml)' })
  @ApiConsumes('application/json', 'application/yaml')
  @ApiBody({ schema: schemaRef('PlanDefinition') })
  @ApiAnswer(201, 'PlanRegistered', 'A new plan or version: {id, version}', { setStatus: false })
  @ApiAnswer(200, 'PlanRegistered', 'Identical content was registered before: the existing {id, version}', { setStatus: false })
  async register(@Body() body: unknown, @Headers('content-type') contentType: string | undefined, @CurrentActor() actor: Actor, @Res({ passthrough: true }) response: Response) {
    const isYaml = YAML_TYPES.test(contentType ?? '');
    if (isYaml ? typeof body !== 'string' || body.trim() === '' : typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new DomainError('VALIDATION_FAILED', isYaml ? 'The YAML body is empty' : 'The plan must be a JSON object (or YAML with Content-Type: application/yaml)');
    }
    const result = await this.rpc.call(RpcSubjects.planRegister, isYaml ? { yaml: body as string } : { definition: body as Record<string, unknown> }, actor);
    response.status(result.created ? 201 : 200);
    return { id: result.id, version: result.version };
  }

  @Get()
  @ApiOperation({ summary: 'List plans (latest version of each)' })
  @ApiAnswer(200, 'PlanList')
  list(@CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.planList, {}, actor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'The latest version of a plan' })
  @ApiAnswer(200, 'PlanView')
  get(@Param('id') id: string, @CurrentActor() actor: Actor) {
    return this.rpc.call(RpcSubjects.planGet, { id }, actor);
  }

  @Get(':id/versions/:version')
  @ApiOperation({ summary: 'One version of a plan' })
  @ApiAnswer(200, 'PlanView')
  getVersion(
    @Param('id') id: string,
    @Param('version', new ParseIntPipe({ exceptionFactory: () => new DomainError('VALIDATION_FAILED', 'version must be a whole number') })) version: number,
    @CurrentActor() actor: Actor,
  ) {
    return this.rpc.call(RpcSubjects.planGet, { id, version }, actor);
  }
}
